namespace SdkInProject;

public static class Library
{
    public static string Name => "SdkInProject";
}
