"""Several machines: cluster workers on a shared Redis frontier, and scrapyd deployment."""
