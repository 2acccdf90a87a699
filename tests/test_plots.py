import matplotlib

matplotlib.use('Agg')  # no screen needed

import matplotlib.pyplot as plt
import numpy as np

from helpers import plot_losses, plot_resumed_losses


def test_plot_losses_draws_both_curves_on_a_log_scale():
    fig = plot_losses([0.5, 0.1, 0.05], [0.6, 0.2, 0.07])
    [ax] = fig.axes
    assert ax.get_yscale() == 'log'
    lines = {line.get_label(): line.get_ydata().tolist() for line in ax.get_lines()}
    assert lines == {'Training Loss': [0.5, 0.1, 0.05], 'Validation Loss': [0.6, 0.2, 0.07]}
    plt.close(fig)


def test_plot_losses_without_validation_draws_one_curve():
    fig = plot_losses([0.5, 0.1])
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ['Training Loss']
    plt.close(fig)


def test_plot_resumed_losses_numbers_the_epochs_after_the_checkpoint():
    fig = plot_resumed_losses(([0.5, 0.1], [0.6, 0.2]), ([0.09, 0.08, 0.07], [0.1, 0.1, 0.1]), resumed_at=2)
    before, after = fig.axes
    assert before.get_lines()[0].get_xdata().tolist() == [0, 1]
    assert after.get_lines()[0].get_xdata().tolist() == [2, 3, 4]
    np.testing.assert_allclose(after.get_lines()[1].get_ydata(), [0.1, 0.1, 0.1])
    plt.close(fig)
