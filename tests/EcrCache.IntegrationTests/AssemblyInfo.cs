// Each test class owns its own unique image repositories and work folders, so classes can run side by side.
// Tests inside a class run one after the other. Two workers: every test spawns a `dotnet build` (plus docker),
// which is heavy on a 2-core CI machine.
[assembly: Parallelize(Workers = 2, Scope = ExecutionScope.ClassLevel)]

// The suite drives dockerd, unix sockets, signals and /proc: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
