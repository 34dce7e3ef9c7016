"""``python -m modeldoc`` runs the command line."""

from modeldoc.cli import main

main()
