"""Running crawls: the crawl runner, jobs and locks, the scheduler, run history, reparse."""
