from secretary.cli import main
import sys
sys.exit(main())
