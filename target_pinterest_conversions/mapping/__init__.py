"""The mapping language: the per-stream settings that say where each event field comes from.

``keys`` (what a mapping may hold), ``parse`` (settings to a model, every error naming its
setting), ``spec`` (the model), ``presets``, ``binding`` and ``schema`` (a mapping held
against the stream's SCHEMA) and ``suggest`` (did-you-mean). Pure: no I/O.
"""
