import sys

from otel_workflow.cli import main

sys.exit(main())
