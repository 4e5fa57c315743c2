"""`python -m cms.cli …`: the `cms` command without the installed script."""

from cms.cli import main

main()
