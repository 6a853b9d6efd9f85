using System.Runtime.CompilerServices;

namespace EcrCache.Keys
{
    /// <summary>
    /// MethodImplOptions.AggressiveOptimization (512) by value: net472's enum has no such member, and .NET Framework
    /// ignores the flag. For the few loops that run once per build over every input file: an MSBuild task process is
    /// too short-lived for tiered compilation to reach them, so they would run as unoptimised tier-0 code.
    /// </summary>
    internal static class JitHints
    {
        public const MethodImplOptions OptimizeNow = (MethodImplOptions)512;
    }
}
