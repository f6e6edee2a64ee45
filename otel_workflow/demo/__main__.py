import sys

from otel_workflow.demo import main

sys.exit(main())
