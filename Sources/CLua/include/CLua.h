// Lua 5.4 for Swift: Debian's headers, with the C macros Swift cannot import turned into
// static-inline functions, and the trampoline through which Swift functions are called.
#ifndef CLUA_H
#define CLUA_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

static inline int clua_registryindex(void) { return LUA_REGISTRYINDEX; }
/* The Lua release bocker was compiled against ("Lua 5.4.4"). */
static inline const char *clua_release(void) { return LUA_RELEASE; }
static inline int clua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void clua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void clua_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *clua_tolstring(lua_State *L, int i, size_t *len) { return lua_tolstring(L, i, len); }
static inline int clua_isnoneornil(lua_State *L, int i) { return lua_isnoneornil(L, i); }
static inline lua_Integer clua_tointegerx(lua_State *L, int i, int *isnum) { return lua_tointegerx(L, i, isnum); }
static inline lua_Number clua_tonumberx(lua_State *L, int i, int *isnum) { return lua_tonumberx(L, i, isnum); }
static inline int clua_pcall(lua_State *L, int nargs, int nresults, int msgh) { return lua_pcall(L, nargs, nresults, msgh); }
static inline void clua_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void clua_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void clua_replace(lua_State *L, int i) { lua_replace(L, i); }
static inline int clua_getglobal(lua_State *L, const char *name) { return lua_getglobal(L, name); }
static inline void *clua_newuserdata(lua_State *L, size_t sz) { return lua_newuserdatauv(L, sz, 1); }
static inline int clua_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }

// A Swift function as Lua sees it. It returns the number of results it pushed, or -1 after
// pushing an error value, which the trampoline then raises (lua_error longjmps only over C).
typedef int (*clua_swift_function)(lua_State *L);

// Pushes a Lua C closure that calls fn through the trampoline.
void clua_pushswiftfunction(lua_State *L, clua_swift_function fn);

// Loads a chunk (text only: mode "t") from a buffer. Returns lua_load's status.
int clua_loadbuffer(lua_State *L, const char *buf, size_t len, const char *chunkname);

// Compiles Lua text into a bytecode chunk (debug information kept) in a malloc'd buffer of
// *outlen bytes; on a syntax error returns NULL and sets *error (malloc'd) to Lua's message.
char *clua_compile(const char *text, size_t len, const char *chunkname, size_t *outlen, char **error);

// Loads a bytecode chunk (mode "b": only the binary's own bundled scripts, never a user's file).
int clua_loadbytecode(lua_State *L, const char *buf, size_t len, const char *chunkname);

// Pushes "chunkname:currentline:" of the Lua function `level` levels up ("" if unknown).
void clua_where(lua_State *L, int level);

// The message handler used for every protected call from Swift: string errors get a
// traceback appended under --debug (traceback != 0); error tables pass through unchanged.
int clua_msghandler_plain(lua_State *L);
int clua_msghandler_traceback(lua_State *L);

// Makes the running Lua code raise a bocker error {code = "interrupted"} soon (checked every
// 1000 instructions) once check() returns non-zero; it raises once.
void clua_install_interrupt_hook(lua_State *L, int (*check)(void));

#endif
