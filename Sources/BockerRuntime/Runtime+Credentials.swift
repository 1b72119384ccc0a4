import BockerCore
import BockerRegistry

extension Runtime {
    /// `login`: checks the credentials against the registry (as `docker login` does) and only
    /// then saves them in bocker's auth.json; returns the key they are stored under.
    @discardableResult
    public static func login(registry: String, username: String, password: String, verify: Bool = true) throws -> String {
        guard !username.isEmpty else { throw BockerError(.invalidArgument, "login needs a user name") }
        guard !password.isEmpty else { throw BockerError(.invalidArgument, "login needs a password") }
        let server = registry.isEmpty ? "docker.io" : registry
        let creds = Credentials(username: username, password: password)
        if verify { try RegistryClient.verifyLogin(registry: CredentialStore.normalizeKey(server), credentials: creds) }
        try CredentialStore.fromEnvironment().save(creds, registry: server)
        return CredentialStore.normalizeKey(server)
    }

    /// `logout`: removes the registry's entry from bocker's auth.json; false when there was
    /// none (Docker's config.json and its helpers are never changed).
    public static func logout(registry: String) throws -> Bool {
        try CredentialStore.fromEnvironment().remove(registry: registry.isEmpty ? "docker.io" : registry)
    }
}
