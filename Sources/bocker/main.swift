// bocker: the runtime's internal entry points (a detached container's monitor), else the Lua
// host, which runs the command script named by the first argument.
import BockerLua
import BockerRuntime
import Glibc

exit(Runtime.internalEntry(CommandLine.arguments) ?? LuaHost.main(CommandLine.arguments))
