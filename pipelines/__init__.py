"""Scrapy item pipelines that decide what is kept, and the stores that index it."""
