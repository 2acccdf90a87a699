"""The course's tests, and the harnesses they share (class_hub.py, torchrun_jobs.py, submissions.py, browser.py)."""
