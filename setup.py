# scrapyd-deploy builds the project's egg with `python setup.py bdist_egg` (and writes a
# setup.py of its own, with another name and no package data, when there is none). All
# that goes in the egg is declared in pyproject.toml: the packages, their data files and
# the `scrapy` entry point naming the settings module.
from setuptools import setup

setup()
