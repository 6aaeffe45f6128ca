"""One module per ``dcgan`` subcommand: ``add_arguments(parser)`` and ``run(args)``."""
