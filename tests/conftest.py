import sys
from pathlib import Path

# helpers.py lives at the course's root, beside the stage folders
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
