#include "clua.h"
#include "ckernels.h"
#include <signal.h>
#include <string.h>

static dode_dispatch_fn dode_dispatcher = NULL;

void dode_set_dispatcher(dode_dispatch_fn fn) { dode_dispatcher = fn; }

/* The trampoline: Swift runs and returns first; only then, in C, is the error raised. */
static int dode_trampoline(lua_State *L) {
    lua_Integer index = lua_tointegerx(L, lua_upvalueindex(1), NULL);
    int n = dode_dispatcher(L, index);
    if (n == DODE_RAISE_VERBATIM) return lua_error(L);
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
    /* An error that already carries a traceback (raised through a callback dode made) keeps it. */
    if (msg != NULL && strstr(msg, "\nstack traceback:") != NULL) return 1;
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

/* Interrupts (Ctrl-C): the handler records the request (polled by dode's Swift loops) and sets
   a hook so that Lua code running now stops at its next instruction, as lua.c does. The hook
   removes itself before raising, so the error handler runs unhooked. */
static lua_State *volatile dode_sigint_state = NULL;

static void dode_interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    dode_interrupt_clear();
    luaL_error(L, "interrupted");
}

static void dode_sigint_handler(int sig) {
    (void)sig;
    dode_interrupt_request();
    lua_State *L = dode_sigint_state;
    if (L) lua_sethook(L, dode_interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void dode_sigint_catch(lua_State *L) {
    dode_sigint_state = L;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = dode_sigint_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
}

/* What SIGINT does while no chunk runs: the default (the process exits, as a terminal user
   expects) or, in a notebook's dode process, nothing (an interrupt that arrives just after a
   cell finished must not kill the session). */
static volatile sig_atomic_t dode_sigint_idle_ignore = 0;

void dode_sigint_set_idle_ignore(int ignore) {
    dode_sigint_idle_ignore = ignore ? 1 : 0;
    if (dode_sigint_state == NULL) signal(SIGINT, ignore ? SIG_IGN : SIG_DFL);
}

void dode_sigint_default(void) {
    signal(SIGINT, dode_sigint_idle_ignore ? SIG_IGN : SIG_DFL);
    dode_sigint_state = NULL;
}

void dode_interrupt_unhook(lua_State *L) {
    if (lua_gethook(L) == dode_interrupt_hook) lua_sethook(L, NULL, 0, 0);
}
