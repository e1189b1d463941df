"""Glue between Flask and the layers below, shared by both portals: request sessions
and downloads, form bodies, error pages, language, refusal messages, hardening."""
