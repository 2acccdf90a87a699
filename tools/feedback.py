"""What the course changes in nbgrader's feedback: the hidden tests stay
hidden. nbgrader 0.9.6 writes a student's feedback from the autograded
notebook, whose checks hold the hidden tests in full; the preprocessor below
removes them, and replaces the traceback of a check that failed in a hidden
test by its last line (the error and its message), since a traceback quotes
the code around the line that failed. nbgrader_config.py adds it to
`GenerateFeedback.preprocessors`."""
from nbgrader.preprocessors import ClearHiddenTests


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: besides the hidden lines, the
    tracebacks of the checks that held some lose everything but their last
    line."""

    def preprocess_cell(self, cell, resources, cell_index):
        held_hidden_tests = self._remove_hidden_test_region(cell)
        if held_hidden_tests:
            for output in cell.get('outputs', []):
                if output.output_type == 'error':
                    output.traceback = [f'{output.ename}: {output.evalue}']
        return cell, resources
