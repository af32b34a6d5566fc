"""Storage: the analytical warehouse (DuckDB / Spark via Ibis) and the operational database.

Import the submodules directly (``churnguard.warehouse.analytical``,
``churnguard.warehouse.operational``, ``churnguard.warehouse.spark``) so that
heavy engines load only when used.
"""
