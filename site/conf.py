"""Sphinx settings of the course's static site (`make site`, tools/build_site.py).

The pages are rendered from the notebooks' stored outputs: nothing is executed,
and every script, stylesheet and font the pages load is copied into the site."""
from tools.publish import BRANCH, hub, repository, site_theme_options

project = 'The PyTorch training loop, step by step'
html_title = project
author = 'the course'
language = 'en'

extensions = [
    'myst_nb',
    # MathJax 3 and its fonts, copied into _static/mathjax/
    'sphinx-mathjax-offline',
]
# README.md is there for the landing page to include parts of it, not as a page
exclude_patterns = ['_build', '**.ipynb_checkpoints', 'README.md']

# The notebooks' maths is written between dollars
myst_enable_extensions = ['dollarmath', 'amsmath']
myst_heading_anchors = 3

# Rendered from the stored outputs, never executed
nb_execution_mode = 'off'
# No require.js from another host: the course has no widgets
nb_ipywidgets_js = {}
# Warnings and progress bars are clutter on a page; what a cell prints
# to stdout in several pieces shows as one block
nb_output_stderr = 'remove'
nb_merge_streams = True

html_theme = 'sphinx_book_theme'
html_theme_options = {
    'show_toc_level': 2,
    'use_download_button': False,
    'use_fullscreen_button': False,
    'navigation_with_keys': True,
}
# Buttons that open each chapter in Colab, Binder or a school's JupyterHub,
# built from the published address (tools/publish.py; COURSE_REPOSITORY
# overrides it) and COURSE_HUB (`make site HUB=...`); none without an address.
# tools/build_site.py runs Sphinx in its own process, where tools.publish imports
html_theme_options.update(site_theme_options(repository(), BRANCH, hub()))
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
