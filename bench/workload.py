"""What the benchmark sends: the scenarios (bench/lua) and the key and value sizes, shared by
the runner (run.py), the report (report.py) and the chart (chart.py)."""

KEY_BYTES = 8      # "k%07d", see bench/lua/common.lua
VALUE_BYTES = 20   # '"v-0123456789abcdef"'

SCENARIOS = {
    "get_hit": "GET hit",
    "get_miss": "GET miss (404)",
    "put_replace": "PUT replace",
    "put_new_delete": "PUT new + DELETE",
    "mix_90_10": "90/10 GET/PUT",
}
# Scenarios whose every answer is a 404 by design.
ALL_404 = {"get_miss"}
