"""nbgrader's submit, with the submission readable by the teachers alone.

nbgrader 0.9.6 copies a submission into the exchange's inbound folder and
makes it readable by every user (files 644, its folder 777): only its
unguessable name, in a folder that nobody but the teacher can list, hides it
from other students. Here the submission is then closed to 'others': it
stays readable by the group of the inbound folder, which nbgrader's release
gives the inbound folder's owner, the teacher, so that `collect` still reads
it. classroom/hub/nbgrader_config.py makes this the exchange's submit."""
import shutil
import stat
from pathlib import Path

from nbgrader.exchange.default.submit import ExchangeSubmit


class PrivateSubmit(ExchangeSubmit):
    """ExchangeSubmit whose copy in the exchange only its owner and the
    inbound folder's group (the teacher's) can read."""

    def copy_files(self):
        super().copy_files()
        inbound = Path(self.inbound_path)
        submission = inbound / self.assignment_filename
        # nbgrader's copy lost the inbound folder's group on the way (its
        # timestamp and secret are the student's group), and an owner outside
        # a group cannot give a file to it: copied again into a folder made in
        # inbound, whose files take inbound's group, then put in its place
        fresh = inbound / f'{self.assignment_filename}.private'
        shutil.copytree(submission, fresh, copy_function=shutil.copyfile)
        for path in [fresh, *fresh.rglob('*')]:
            # Folders stay writable by the group: the teacher may remove them
            path.chmod(stat.S_IRWXU | stat.S_IRWXG if path.is_dir() else stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
        shutil.rmtree(submission)
        fresh.rename(submission)
        wrong_group = [path for path in submission.rglob('*') if path.stat().st_gid != inbound.stat().st_gid]
        if wrong_group:
            self.fail(f'{wrong_group[0]} did not take the group of {inbound}: the teacher could not read it')
