"""What the Allure report holds besides the tests' own steps: the run's environment
(``environment.properties``), failure categories (``categories.json``), the router's and
Cilium's state when a test fails, and charts.

The plugin's hooks call these; none of them may make a test fail, so every reader here turns
what goes wrong into text for the report instead of raising.
"""
