"""newswatch: the application people run (config, CLI, crawl runner, demo)."""
