import BockerCore

extension CgroupManager {
    /// `--cpus`: at most `nanoCPUs` / 10⁹ CPUs' worth of time, as a CFS quota over a 100 ms
    /// period (v1 cpu.cfs_period_us/cpu.cfs_quota_us, v2 cpu.max); 0 removes the quota.
    public func setCPUQuota(nanoCPUs: Int64) throws {
        let period: Int64 = 100_000
        let quota = nanoCPUs == 0 ? nil : max(1000, nanoCPUs * period / 1_000_000_000)
        if version == "v2" {
            try write("cpu.max", "\(quota.map(String.init) ?? "max") \(period)")
        } else {
            try write("cpu.cfs_period_us", String(period))
            try write("cpu.cfs_quota_us", String(quota ?? -1))
        }
    }
}
