// C shims over Lua 5.4 for Swift: the function-like macros and variadic functions of the Lua
// API as `static inline` functions, and the error trampoline that lets Swift bindings raise Lua
// errors without ever longjmp-ing across a Swift frame.
#ifndef DODE_CLUA_H
#define DODE_CLUA_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
#include <stddef.h>

/// Result a Swift dispatcher returns when the binding threw: the error message has been pushed
/// and the trampoline must raise it.
#define DODE_RAISE (-1)
/// Like DODE_RAISE, but the message is raised exactly as it is (no "file:line:" prefix).
#define DODE_RAISE_VERBATIM (-2)

/// The Swift side of every binding: called by the trampoline with the binding's index.
/// Returns the number of results, or DODE_RAISE with the message on the top of the stack.
typedef int (*dode_dispatch_fn)(lua_State *L, lua_Integer index);

/// Installs the dispatcher (once per process).
void dode_set_dispatcher(dode_dispatch_fn fn);

/// Pushes a C closure that forwards to the dispatcher with `index` as upvalue 1.
void dode_push_binding(lua_State *L, lua_Integer index);

/// Traceback message handler for lua_pcall (like lua.c's msghandler).
int dode_traceback_handler(lua_State *L);

/// Runs `chunk` in protected mode with the traceback handler. Returns the lua_pcall status.
int dode_pcall_traceback(lua_State *L, int nargs, int nresults);

/// Catches SIGINT: an interrupt request for dode's loops (see Interrupt.swift) and a hook that
/// stops the Lua code of `L` at its next instruction with the error "interrupted".
void dode_sigint_catch(lua_State *L);
/// Restores the idle SIGINT action: the default (the process exits) unless
/// dode_sigint_set_idle_ignore(1) asked for SIGINT to be ignored between chunks.
void dode_sigint_default(void);
/// Sets the idle SIGINT action: ignore (1, a notebook kernel's dode process) or default (0).
void dode_sigint_set_idle_ignore(int ignore);
/// Removes the interrupt hook if it is set (after a Swift loop reported the interrupt).
void dode_interrupt_unhook(lua_State *L);

static inline int dode_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline void dode_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void dode_newtable(lua_State *L) { lua_newtable(L); }
static inline lua_Number dode_tonumber(lua_State *L, int i) { return lua_tonumberx(L, i, NULL); }
static inline lua_Integer dode_tointeger(lua_State *L, int i) { return lua_tointegerx(L, i, NULL); }
static inline const char *dode_tostring(lua_State *L, int i) { return lua_tolstring(L, i, NULL); }
static inline int dode_isnoneornil(lua_State *L, int i) { return lua_type(L, i) <= 0; }
static inline int dode_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int dode_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline void *dode_getextraspace(lua_State *L) { return lua_getextraspace(L); }
static inline void dode_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
static inline int dode_gc_step(lua_State *L, int kb) { return lua_gc(L, LUA_GCSTEP, kb); }
static inline int dode_gc_count(lua_State *L) { return lua_gc(L, LUA_GCCOUNT, 0); }
static inline int dode_gc_collect(lua_State *L) { return lua_gc(L, LUA_GCCOLLECT, 0); }
static inline int dode_gc_generational(lua_State *L) { return lua_gc(L, LUA_GCGEN, 0, 0); }
static inline void dode_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void dode_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void dode_replace(lua_State *L, int i) { lua_replace(L, i); }
static inline int dode_loadbuffer(lua_State *L, const char *b, size_t n, const char *name) {
    return luaL_loadbufferx(L, b, n, name, NULL);
}
static inline void dode_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline int dode_getglobal(lua_State *L, const char *name) { return lua_getglobal(L, name); }
static inline void dode_setglobal(lua_State *L, const char *name) { lua_setglobal(L, name); }
static inline void dode_pushstring(lua_State *L, const char *s) { lua_pushstring(L, s); }
static inline int dode_isinteger(lua_State *L, int i) { return lua_isinteger(L, i); }
static inline void *dode_newuserdata(lua_State *L, size_t n) { return lua_newuserdatauv(L, n, 1); }
static inline int dode_newmetatable(lua_State *L, const char *n) { return luaL_newmetatable(L, n); }
static inline void dode_setmetatable(lua_State *L, const char *n) { luaL_setmetatable(L, n); }
static inline void *dode_testudata(lua_State *L, int i, const char *n) { return luaL_testudata(L, i, n); }
static inline const char *dode_typename(lua_State *L, int i) { return luaL_typename(L, i); }
static inline void dode_openlibs(lua_State *L) { luaL_openlibs(L); }
static inline lua_State *dode_newstate(void) { return luaL_newstate(); }
static inline const char *dode_tolstring_meta(lua_State *L, int i, size_t *len) {
    return luaL_tolstring(L, i, len);
}
static inline void dode_traceback(lua_State *L, lua_State *L1, const char *msg, int level) {
    luaL_traceback(L, L1, msg, level);
}
static inline int dode_ref(lua_State *L) { return luaL_ref(L, LUA_REGISTRYINDEX); }
static inline void dode_unref(lua_State *L, int r) { luaL_unref(L, LUA_REGISTRYINDEX, r); }
static inline int dode_rawgeti_registry(lua_State *L, lua_Integer r) { return lua_rawgeti(L, LUA_REGISTRYINDEX, r); }
static inline int dode_getmetafield(lua_State *L, int obj, const char *e) { return luaL_getmetafield(L, obj, e); }
static inline void dode_requiref(lua_State *L, const char *name, lua_CFunction f, int glb) {
    luaL_requiref(L, name, f, glb);
}
static inline lua_Integer dode_len(lua_State *L, int i) { return luaL_len(L, i); }

#endif
