-- luacheck configuration for Herald's Redis scripts (gateway/herald_core/lua). The scripts
-- are linted as Redis runs them, includes put in (tests/unit/test_lua.py, which assembles
-- them with herald_core.scripts.lua): a script file alone names functions its includes
-- define. Redis runs Lua 5.1 with these globals.
std = "lua51"
read_globals = {"redis", "KEYS", "ARGV", "cjson", "cmsgpack", "struct", "bit"}
max_line_length = 100
