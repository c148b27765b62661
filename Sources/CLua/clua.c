#include "clua.h"
#include <string.h>

static dode_dispatch_fn dode_dispatcher = NULL;

void dode_set_dispatcher(dode_dispatch_fn fn) { dode_dispatcher = fn; }

/* The trampoline: Swift runs and returns first; only then, in C, is the error raised. */
static int dode_trampoline(lua_State *L) {
    lua_Integer index = lua_tointegerx(L, lua_upvalueindex(1), NULL);
    int n = dode_dispatcher(L, index);
    if (n == DODE_RAISE) {
        /* Message on top: prefix it with the caller's "file:line:" unless it is a table. */
        if (lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return n;
}

void dode_push_binding(lua_State *L, lua_Integer index) {
    lua_pushinteger(L, index);
    lua_pushcclosure(L, dode_trampoline, 1);
}

int dode_traceback_handler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int dode_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, dode_traceback_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}
