import CLua
import BockerCore
import BockerStore
import BockerRuntime
import BockerCgroups
import BockerNetwork

/// Swift objects Lua holds as userdata: the userdata stores a retained reference, released by
/// `__gc`. Each has a metatable named after its Lua type.
final class ImageObject {
    var rec: ImageRecord
    init(_ rec: ImageRecord) { self.rec = rec }
}

/// A container as Lua holds it: its id and the record as last read (fields come from this
/// snapshot; `c:refresh()` and the methods that change the container read it again).
final class ContainerObject {
    let id: String
    var rec: ContainerRecord { didSet { live = rec.liveState } }
    /// The state as it really was when read (a dead "running" one is exited).
    private(set) var live: ContainerState
    init(_ rec: ContainerRecord) { self.id = rec.id; self.rec = rec; self.live = rec.liveState }
}

final class NetworkObject {
    let rec: NetworkRecord
    init(_ rec: NetworkRecord) { self.rec = rec }
}

final class CgroupObject {
    let manager: CgroupManager
    init(_ m: CgroupManager) { manager = m }
}

enum ObjectType: String, CaseIterable {
    case image = "bocker.Image"
    case container = "bocker.Container"
    case cgroup = "bocker.Cgroup"
    case network = "bocker.Network"
    case chain = "bocker.BuildChain"
}

extension Lua {
    func pushObject(_ obj: AnyObject, _ type: ObjectType) {
        let p = clua_newuserdata(L, MemoryLayout<UnsafeMutableRawPointer?>.size)!
        p.storeBytes(of: Unmanaged.passRetained(obj).toOpaque(), as: UnsafeMutableRawPointer?.self)
        _ = clua_getmetatable_named(L, type.rawValue)
        lua_setmetatable(L, -2)
    }

    /// The object at index i if it is userdata of that type (no raising: luaL_testudata).
    func object<T: AnyObject>(_ i: Int32, _ type: ObjectType, as: T.Type) -> T? {
        guard let p = luaL_testudata(L, i, type.rawValue),
              let raw = p.load(as: UnsafeMutableRawPointer?.self) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as? T
    }

    func checkObject<T: AnyObject>(_ i: Int32, _ type: ObjectType, as t: T.Type, _ fn: String) throws -> T {
        guard let o = object(i, type, as: t) else {
            throw BockerError(.invalidArgument, "bad argument #\(i) to '\(fn)' (\(type.rawValue) expected, got \(typeName(i)))")
        }
        return o
    }
}

/// __gc for every object type: drops the retained reference once.
let objectGC: clua_swift_function = { L in
    guard let p = lua_touserdata(L, 1) else { return 0 }
    if let raw = p.load(as: UnsafeMutableRawPointer?.self) {
        Unmanaged<AnyObject>.fromOpaque(raw).release()
        p.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
    }
    return 0
}
