"""Tables and figures: every figure is a PDF + PNG + the CSV of exactly the plotted numbers.

* :mod:`.summaries` / :mod:`.figures`: the paper's figures (tables, then drawing);
* :mod:`.theme`: the one look of every figure, and ``save_figure`` (PDF + PNG + CSV);
* :mod:`.styles`: one fixed colour and marker per model and scorer;
* :mod:`.zoo_summaries` / :mod:`.zoo_figures`: the scorer zoo's;
* :mod:`.training_plots`: the loss curve of a training run.
"""
