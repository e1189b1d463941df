"""Configuration and instance secrets: the bottom layer every other one reads."""
