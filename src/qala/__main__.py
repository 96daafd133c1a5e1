"""Allow `python -m qala`."""

from qala.cli import main

main()
