"""``python -m newswatch``: the same command line as the ``newswatch`` script."""

from newswatch.commands import main

main()
