namespace PackageReferenceConsumer;

public static class Library
{
    public static string Name => "PackageReferenceConsumer";
}
