"""``python -m memorylink``: the command line."""

from memorylink.cli import main

main()
