"""What the course changes in nbgrader's feedback.

The hidden tests stay hidden: nbgrader 0.9.6 writes a student's feedback from
the autograded notebook, whose checks hold the hidden tests in full;
HideHiddenTests removes them, and replaces the traceback of a check that
failed in a hidden test by its last line (the error and its message), since a
traceback quotes the code around the line that failed. The student's code
ran in the kernel that ran the hidden tests and could print them (a hook
on every cell run): no output line that quotes one reaches the feedback.

The feedback opens offline: nbgrader's feedback template loads MathJax 2 from
a CDN (nbconvert's `mathjax` macro, called without the URL that
HTMLExporter.mathjax_url would set); OfflineFeedbackExporter writes MathJax 3
into the page instead, where the notebook has math, and nothing elsewhere.

The score and late penalty are today's: nbgrader's feedback shows the late
penalty that autograding stored, computed before any hand grade, with the
due date of that day; GetGradesWithCurrentPenalty stores the penalty of the
score and due date as they are when the feedback is made (late_penalty.py's
notebook_penalty, as every grade file computes it), then shows it. Each page
records what it shows (FEEDBACK_GRADE, a meta element), so that `make grade`
can say which feedback no longer matches the grades (shown_grade).

Feedback is released even when some cannot be: nbgrader's release_feedback
stops at the first submission that was not handed in through the exchange
(copied in by hand, or from a platform's download: no submission_secret.txt,
which names the file the student fetches); ReleaseFeedbackSkippingUnreleasable
releases the others and names those it leaves.

The course's nbgrader settings (nbgrader_config.py, classroom/hub/nbgrader_config.py
and classroom/grading/rules.py, which both load) put these into nbgrader's.
"""
import html
import json
import os
import re
from functools import cache
from glob import glob
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbgrader.api import Gradebook
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets import default

from classroom.grading.late_penalty import LatePenaltyPerDay, notebook_penalty

# MathJax 3 typesetting TeX as SVG, with every TeX extension: the one build
# that fetches nothing more (its glyphs are drawn as paths, not loaded as
# fonts). From the package that serves it to the course's site too
MATHJAX_PACKAGE = 'sphinx-mathjax-offline'
MATHJAX_FILE = 'sphinx-mathjax-offline/static/mathjax/tex-svg-full.js'
# The delimiters nbconvert's own MathJax settings typeset; no menu, since
# the speech it offers fetches its rules from a CDN
MATHJAX_SETTINGS = r"""window.MathJax = {
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
    processEscapes: true,
    processEnvironments: true,
    tags: 'ams',
  },
  options: {enableMenu: false},
};"""
# What a markdown cell with math holds
MATH_MARKS = ('$', '\\(', '\\[', '\\begin{')
# What the feedback template writes in place of MathJax, until it is known
# whether the notebook needs it
MATHJAX_PLACE = '<!-- MathJax, where the notebook has math -->'
# The name of the meta element that records a page's score and late penalty
FEEDBACK_GRADE = 'course-feedback-grade'
# What nbgrader's release_feedback needs beside a submission's feedback
RELEASE_NEEDS = ('timestamp.txt', 'submission_secret.txt')


class GetGradesWithCurrentPenalty(GetGrades):
    """GetGrades that first stores the notebook's late penalty as it is now
    (notebook_penalty: the score with its hand grades, the due date now)."""

    def preprocess(self, nb, resources):
        nbgrader = resources['nbgrader']
        share_per_day = LatePenaltyPerDay(parent=self).share_per_day
        with Gradebook(nbgrader['db_url']) as gradebook:
            notebook = gradebook.find_submission_notebook(nbgrader['notebook'], nbgrader['assignment'],
                                                          nbgrader['student'])
            notebook.late_submission_penalty = notebook_penalty(notebook, share_per_day) or None
            gradebook.db.commit()
        return super().preprocess(nb, resources)


def shown_grade(page):
    """(score, late penalty) as a feedback page shows them; None for a page
    made before pages recorded them."""
    found = re.search(rf'<meta name="{FEEDBACK_GRADE}" content="([^"]*)"', Path(page).read_text())
    if not found:
        return None
    shown = json.loads(html.unescape(found.group(1)))
    return shown['score'], shown['late_penalty']


class ReleaseFeedbackSkippingUnreleasable(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, which leaves out, naming them, the
    students whose submission did not come through the exchange."""

    def copy_files(self):
        unreleasable = []
        for folder in sorted(Path(path) for path in glob(self.src_path) if os.path.isdir(path)):
            lacking = [name for name in RELEASE_NEEDS if not (folder / name).is_file()]
            if lacking and list(folder.glob('*.html')):
                unreleasable.append(folder.parent.name)
                self.log.warning('Not released: %s, whose submission was not handed in through the exchange (no %s); '
                                 'give them the files of %s yourself', folder.parent.name, ' or '.join(lacking), folder)
        excluded = self.coursedir.student_id_exclude
        self.coursedir.student_id_exclude = ','.join(filter(None, [excluded, *unreleasable]))
        try:
            super().copy_files()
        finally:
            self.coursedir.student_id_exclude = excluded


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: besides the hidden lines, the
    tracebacks of the checks that held some lose everything but their last
    line, and no output of any cell keeps a line of a hidden test (the
    student's code ran in the kernel that ran them: it could print them)."""

    def preprocess(self, nb, resources):
        self.hidden_lines = hidden_test_lines(nb, self.begin_test_delimeter, self.end_test_delimeter)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        held_hidden_tests = self._remove_hidden_test_region(cell)
        if held_hidden_tests:
            for output in cell.get('outputs', []):
                if output.output_type == 'error':
                    output.traceback = [f'{output.ename}: {output.evalue}']
        for output in cell.get('outputs', []):
            scrub_output(output, self.hidden_lines)
        return cell, resources


# What feedback shows in place of an output's line that quotes a hidden test
HIDDEN_LINE = '[a line of a hidden test, left out]'
# A hidden test's line this long is left out wherever an output line holds
# it; a shorter one only where it is the whole line (a ")" is everywhere)
QUOTED_LENGTH = 16


def hidden_test_lines(notebook, begin, end):
    """The lines (stripped) of the notebook's hidden tests (between the lines
    holding `begin` and `end`, those included) that its visible code does not
    hold too."""
    hidden, shown = set(), set()
    for cell in notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            if line.strip():
                (hidden if inside else shown).add(line.strip())
            if end in line:
                inside = False
    return hidden - shown


def scrub_output(output, hidden_lines):
    """Replaces each line that quotes one of `hidden_lines` in every string
    an output holds (text, an error, data of any kind: SVG, JavaScript, the
    strings inside JSON) but base64-encoded image data, which holds no lines."""
    def scrubbed(value):
        if isinstance(value, str):
            return '\n'.join(HIDDEN_LINE if quotes_hidden_test(line, hidden_lines) else line
                             for line in value.split('\n'))
        if isinstance(value, list):
            return [scrubbed(item) for item in value]
        if isinstance(value, dict):
            return type(value)((scrubbed(key), scrubbed(item)) for key, item in value.items())
        return value

    for key, value in output.items():
        if key != 'data':
            output[key] = scrubbed(value)
    for kind, value in output.get('data', {}).items():
        if not is_base64_image(kind):
            output.data[kind] = scrubbed(value)


def is_base64_image(kind):
    """Whether an output's data of MIME type `kind` is an image nbformat
    keeps in base64 (PNG, JPEG, GIF, ...; SVG is text)."""
    return kind.startswith('image/') and kind != 'image/svg+xml'


def quotes_hidden_test(line, hidden_lines):
    stripped = line.strip()
    return stripped in hidden_lines or any(
        len(hidden) >= QUOTED_LENGTH and hidden in line for hidden in hidden_lines)


@cache
def mathjax_scripts():
    """MathJax and its settings, as two script elements to write into a page."""
    try:
        source = Path(distribution(MATHJAX_PACKAGE).locate_file(MATHJAX_FILE)).read_text()
    except PackageNotFoundError:
        raise ModuleNotFoundError(
            f'the feedback takes MathJax from the package {MATHJAX_PACKAGE}, which is not installed: '
            f'pip install -r requirements-teacher.txt') from None
    # An HTML parser would end the script at the first '</script'
    source = source.replace('</script', '<\\/script')
    return f'<script>\n{MATHJAX_SETTINGS}\n</script>\n<script>{source}</script>'


def has_math(notebook):
    """Whether a notebook (nbformat) may show TeX: a markdown cell with math
    delimiters, or an output in LaTeX."""
    return any(
        mark in cell.source for cell in notebook.cells if cell.cell_type == 'markdown' for mark in MATH_MARKS
    ) or any(
        'text/latex' in output.get('data', {}) for cell in notebook.cells for output in cell.get('outputs', [])
    )


class OfflineFeedbackExporter(HTMLExporter):
    """HTMLExporter for feedback that a browser shows offline: MathJax is
    written into the page, where the notebook has math, rather than loaded
    from a CDN. Every other setting is HTMLExporter's (nbgrader sets the
    feedback template)."""

    @default('extra_loaders')
    def _mathjax_in_place(self):
        # Found before nbconvert's templates: the `mathjax` macro that the
        # feedback template imports and calls, with whatever URL, writes the
        # place that from_notebook_node fills
        macro = '{%- macro mathjax(url=None) -%}' + MATHJAX_PLACE + '{%- endmacro %}'
        return [DictLoader({'mathjax.html.j2': macro})]

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = super().from_notebook_node(nb, resources, **kw)
        page = page.replace(MATHJAX_PLACE, mathjax_scripts() if has_math(nb) else '')
        graded = (resources or {}).get('nbgrader', {})
        if 'score' in graded:
            shown = json.dumps({'score': graded['score'], 'late_penalty': graded['late_penalty']})
            page = page.replace('<head>', f'<head>\n<meta name="{FEEDBACK_GRADE}" content="{html.escape(shown)}">', 1)
        return page, resources
