"""Effectiveness metrics: their definitions, computation per period and cohort, and uplift against a control group."""
