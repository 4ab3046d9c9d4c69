"""``python -m memorylink.cli``."""

from memorylink.cli import main

main()
