"""``python -m ray_serve_recipe``: start the local Ray cluster, ``serve deploy`` the app, serve until SIGTERM."""

import sys

from .launcher import main

sys.exit(main())
