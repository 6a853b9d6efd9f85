#if NETFRAMEWORK
namespace System.Runtime.CompilerServices
{
    /// <summary>What the compiler needs for records and init accessors; .NET 5 and later have it, .NET Framework does not.</summary>
    internal static class IsExternalInit
    {
    }
}
#endif
