import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parent.parent
# helpers.py lives at the course's root, beside the stage folders; what the
# tests share with the maintainer tools (tools/course.py) lives in tools/
sys.path[:0] = [str(COURSE), str(COURSE / 'tools')]
