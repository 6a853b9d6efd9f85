// The tests set and read Unix file modes (secret files must be 0600, fake tools must be executable) and drive
// dockerd, a registry and moto: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
