using System;
using System.Runtime.CompilerServices;
using Microsoft.Build.Locator;

namespace EcrCache.Tasks.Tests.Sdk
{
    /// <summary>
    /// Registers the .NET SDK's MSBuild with Microsoft.Build.Locator, once per process. The Microsoft.Build packages are
    /// referenced with ExcludeAssets=runtime, so nothing may touch an MSBuild type before this ran; MSBuild types live in
    /// other classes and methods (the JIT would load them when compiling the calling method).
    /// Safe to call from [AssemblyInitialize], [ClassInitialize] or a test, any number of times.
    /// </summary>
    internal static class MSBuildSetup
    {
        private static readonly object Gate = new object();
        private static string? _msbuildPath;

        /// <summary>The folder of the registered MSBuild.</summary>
        public static string MSBuildPath
        {
            get
            {
                EnsureRegistered();
                return _msbuildPath!;
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void EnsureRegistered()
        {
            lock (Gate)
            {
                if (MSBuildLocator.IsRegistered)
                {
                    _msbuildPath ??= "(registered elsewhere)";
                    return;
                }

                var instance = MSBuildLocator.RegisterDefaults();
                _msbuildPath = instance.MSBuildPath;
            }
        }
    }
}
