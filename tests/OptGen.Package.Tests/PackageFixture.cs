using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Security;

namespace OptGen.Package.Tests;

/// <summary>
/// Packs the freshly built runtime and builds and runs a consumer of the package, once for all package tests
/// (<see cref="PackageCollection"/>):
/// <list type="number">
/// <item><c>dotnet pack src/Runtime --no-build</c> with a unique prerelease version into a local folder feed
/// (no build: the test project's reference has already built the runtime, and nothing in the repository is written
/// while other test projects run);</item>
/// <item>copies <c>Consumer/</c> to a temporary folder outside the repository, with a nuget.config whose only
/// sources are that feed and the machine's NuGet package folder (read as a feed, so nothing needs the network),
/// and an empty global packages folder of its own (so no cached OptGen can stand in for the packed one);</item>
/// <item>builds it with warnings as errors and runs it;</item>
/// <item>builds it again with a declaration that has a mistake, which must fail with the generator's error.</item>
/// </list>
/// Each step runs only when the one before it succeeded; the tests report which step failed, with its output.
/// </summary>
public sealed partial class PackageFixture : IDisposable
{
    /// <summary>The longest a consumer's restore and build may take.</summary>
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);

    public PackageFixture()
    {
        _torchSharp = new Lazy<TorchSharpConsumerResult>(BuildTorchSharpConsumer, System.Threading.LazyThreadSafetyMode.ExecutionAndPublication);
        RepositoryRoot = FindRepositoryRoot();
        Configuration = typeof(PackageFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "OptGen.Configuration").Value!;
        Version assemblyVersion = typeof(Optimizer).Assembly.GetName().Version!;
        PackageVersion = $"{assemblyVersion.Major}.{assemblyVersion.Minor}.{assemblyVersion.Build}-packagetest.{Guid.NewGuid():N}";

        WorkDirectory = Path.Combine(Path.GetTempPath(), "optgen-package-tests", Guid.NewGuid().ToString("N"));
        FeedDirectory = Path.Combine(WorkDirectory, "feed");
        ConsumerDirectory = Path.Combine(WorkDirectory, "consumer");
        PackagesDirectory = Path.Combine(WorkDirectory, "packages");
        Directory.CreateDirectory(FeedDirectory);
        Directory.CreateDirectory(PackagesDirectory);
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = PackagesDirectory };
        ConsumerEnvironment = environment;

        Pack = PackIntoFeed(Path.Combine("src", "Runtime", "OptGen.Runtime.csproj"), "nuspec");
        PackagePath = Path.Combine(FeedDirectory, $"OptGen.{PackageVersion}.nupkg");
        if (!Pack.Succeeded || !File.Exists(PackagePath))
        {
            return;
        }

        CopyDirectory(Path.Combine(AppContext.BaseDirectory, "Consumer"), ConsumerDirectory);
        WriteNuGetConfig(ConsumerDirectory);

        Build = DotNetCli.Run(
            ConsumerDirectory,
            environment,
            BuildTimeout,
            "build",
            "Consumer.csproj",
            "-c", "Release",
            "-p:OptGenVersion=" + PackageVersion,
            "-warnaserror",
            "-nodeReuse:false",
            "-p:UseSharedCompilation=false",
            "-tl:off");
        if (!Build.Succeeded)
        {
            return;
        }

        // What the build left, recorded before the build below overwrites it.
        string generated = Path.Combine(ConsumerDirectory, "obj", "Release", "net10.0", "generated", "OptGen.Generator", "OptGen.Generator.OptGenGenerator");
        GeneratedFiles = Directory.Exists(generated)
            ? Directory.GetFiles(generated).ToDictionary(f => Path.GetFileName(f), File.ReadAllText, StringComparer.Ordinal)
            : new Dictionary<string, string>();
        OutputFiles = Directory.Exists(ConsumerOutputDirectory)
            ? Directory.GetFiles(ConsumerOutputDirectory).Select(f => Path.GetFileName(f)).ToArray()
            : [];

        Run = DotNetCli.Run(ConsumerDirectory, environment, RunTimeout, "exec", Path.Combine(ConsumerOutputDirectory, "Consumer.dll"));

        // Last, as it overwrites the build's outputs: the same project plus a declaration with a mistake.
        InvalidBuild = DotNetCli.Run(
            ConsumerDirectory,
            environment,
            BuildTimeout,
            "build",
            "Consumer.csproj",
            "-c", "Release",
            "--no-restore",
            "-p:OptGenVersion=" + PackageVersion,
            "-p:OptGenInvalid=true",
            "-nodeReuse:false",
            "-p:UseSharedCompilation=false",
            "-tl:off");
    }

    public string RepositoryRoot { get; }

    /// <summary>
    /// <c>dotnet pack --no-build</c> of <paramref name="project"/> (relative to the repository) into the feed at
    /// <see cref="PackageVersion"/>, its nuspec kept in <paramref name="nuspecFolder"/> of the work folder.
    /// </summary>
    private CommandResult PackIntoFeed(string project, string nuspecFolder) => DotNetCli.Run(
        RepositoryRoot,
        ConsumerEnvironment,
        PackTimeout,
        "pack",
        Path.Combine(RepositoryRoot, project),
        "-c", Configuration,
        "--no-build",
        "-o", FeedDirectory,
        "-p:PackageVersion=" + PackageVersion,
        "-p:NuspecOutputPath=" + Path.Combine(WorkDirectory, nuspecFolder) + Path.DirectorySeparatorChar,
        "-nodeReuse:false",
        "-tl:off");

    /// <summary>The variables every consumer command runs with: the isolated global package folder.</summary>
    public IReadOnlyDictionary<string, string> ConsumerEnvironment { get; }

    public string Configuration { get; }

    /// <summary>A prerelease version no earlier run has used, so no package cache can hold it.</summary>
    public string PackageVersion { get; }

    public string WorkDirectory { get; }

    public string FeedDirectory { get; }

    public string ConsumerDirectory { get; }

    /// <summary>The consumer's global package folder: empty before its restore.</summary>
    public string PackagesDirectory { get; }

    public string ConsumerOutputDirectory => Path.Combine(ConsumerDirectory, "bin", "Release", "net10.0");

    public string PackagePath { get; }

    public CommandResult Pack { get; }

    /// <summary>The consumer's restore and build; null when packing failed.</summary>
    public CommandResult? Build { get; }

    /// <summary>The files the generator wrote in the consumer's build (name → text), as that build left them.</summary>
    public IReadOnlyDictionary<string, string> GeneratedFiles { get; } = new Dictionary<string, string>();

    /// <summary>The file names in the consumer's output folder, as its build left them.</summary>
    public IReadOnlyList<string> OutputFiles { get; } = [];

    /// <summary>The consumer's run; null when an earlier step failed.</summary>
    public CommandResult? Run { get; }

    /// <summary>A build of the consumer with <c>Invalid/Invalid.cs</c> added; null when an earlier step failed.</summary>
    public CommandResult? InvalidBuild { get; }

    /// <summary>
    /// Writes the consumers' <c>nuget.config</c> into <paramref name="directory"/>: its only sources are the local feed
    /// and the machine's package folder.
    /// </summary>
    public void WriteNuGetConfig(string directory) =>
        File.WriteAllText(Path.Combine(directory, "nuget.config"), NuGetConfig(FeedDirectory, UserPackageFolder()));

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("OPTGEN_KEEP_PACKAGE_TEST") == "1")
        {
            return;
        }

        try
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is not worth failing the run over.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "OptGen.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No OptGen.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>The machine's NuGet package folder, where the solution's own restore put every package it uses.</summary>
    private static string? UserPackageFolder()
    {
        string? configured = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        string folder = string.IsNullOrEmpty(configured)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages")
            : configured;
        return Directory.Exists(folder) ? folder : null;
    }

    private static string NuGetConfig(string feed, string? userPackages) =>
        $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
            <add key="optgen-local-feed" value="{SecurityElement.Escape(feed)}" />
        {(userPackages is null ? string.Empty : $"    <add key=\"machine-package-folder\" value=\"{SecurityElement.Escape(userPackages)}\" />")}
          </packageSources>
        </configuration>
        """;

    private static void CopyDirectory(string source, string destination)
    {
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
