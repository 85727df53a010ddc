using System;
using System.IO;
using System.Linq;
using System.Security;

namespace OptGen.Package.Tests;

/// <summary>
/// The OptGen.TorchSharp package tier, on first use (after the OptGen package was packed into the feed):
/// <list type="number">
/// <item><c>dotnet pack src/TorchSharp --no-build</c> into the same feed, at the same unique version (its OptGen
/// dependency is that version);</item>
/// <item>copies <c>TorchSharpConsumer/</c> outside the repository with a nuget.config whose sources are the feed and the
/// machine's package folder, which is also a fallback folder: TorchSharp and libtorch (hundreds of MB) are used where
/// they are, never copied into the isolated package folder, while OptGen and OptGen.TorchSharp at the unique version
/// can only come from the feed; one restore and build with warnings as errors (output files hard-linked where possible);</item>
/// <item>on Linux, <c>tools/torchsharp/weaken_glibcxx.py</c> on the consumer output's copy of libLibTorchSharp.so (it
/// does nothing where libstdc++ is new enough; it replaces the file, so a hard link into the package folder is not
/// written through), then runs the consumer.</item>
/// </list>
/// </summary>
public sealed partial class PackageFixture
{
    private static readonly TimeSpan TorchSharpRunTimeout = TimeSpan.FromMinutes(2);

    private readonly Lazy<TorchSharpConsumerResult> _torchSharp;

    /// <summary>The OptGen.TorchSharp pack, its consumer's build, patch and run (built on first use; see above).</summary>
    public TorchSharpConsumerResult TorchSharp => _torchSharp.Value;

    /// <summary>The TorchSharp version the repository pins (Directory.Packages.props), which the package depends on.</summary>
    public string TorchSharpPackageVersion => Metadata("TorchSharpVersion");

    /// <summary>The machine's package folder, where the solution's restore put TorchSharp and libtorch; null if none.</summary>
    public string? MachinePackageFolder => UserPackageFolder();

    private TorchSharpConsumerResult BuildTorchSharpConsumer()
    {
        string feed = FeedDirectory;
        string packagePath = Path.Combine(feed, $"OptGen.TorchSharp.{PackageVersion}.nupkg");
        var result = new TorchSharpConsumerResult(packagePath, Path.Combine(WorkDirectory, "torchsharp-consumer"));
        if (!Pack.Succeeded)
        {
            return result;
        }

        result.Pack = DotNetCli.Run(
            RepositoryRoot,
            ConsumerEnvironment,
            PackTimeout,
            "pack",
            Path.Combine(RepositoryRoot, "src", "TorchSharp", "OptGen.TorchSharp.csproj"),
            "-c", Configuration,
            "--no-build",
            "-o", feed,
            "-p:PackageVersion=" + PackageVersion,
            "-p:NuspecOutputPath=" + Path.Combine(WorkDirectory, "nuspec-torchsharp") + Path.DirectorySeparatorChar,
            "-nodeReuse:false",
            "-tl:off");
        if (!result.Pack.Succeeded || !File.Exists(packagePath))
        {
            return result;
        }

        string consumer = result.ConsumerDirectory;
        CopyDirectory(Path.Combine(AppContext.BaseDirectory, "TorchSharpConsumer"), consumer);
        string? machine = UserPackageFolder();
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), NuGetConfig(feed, machine).Replace(
            "</configuration>",
            machine is null ? "</configuration>" : $"  <fallbackPackageFolders>\n    <add key=\"machine-package-folder\" value=\"{SecurityElement.Escape(machine)}\" />\n  </fallbackPackageFolders>\n</configuration>",
            StringComparison.Ordinal));

        result.Build = DotNetCli.Run(
            consumer,
            ConsumerEnvironment,
            BuildTimeout,
            "build",
            "TorchSharpConsumer.csproj",
            "-c", "Release",
            "-p:OptGenVersion=" + PackageVersion,
            "-p:LibTorchVersion=" + Metadata("LibTorchVersion"),
            "-p:CreateHardLinksForCopyLocalIfPossible=true",
            "-warnaserror",
            "-nodeReuse:false",
            "-p:UseSharedCompilation=false",
            "-tl:off");
        if (!result.Build.Succeeded)
        {
            return result;
        }

        string output = Path.Combine(consumer, "bin", "Release", "net10.0");
        if (OperatingSystem.IsLinux())
        {
            result.Patch = DotNetCli.RunProgram(
                "python3",
                consumer,
                TimeSpan.FromMinutes(1),
                Path.Combine(RepositoryRoot, "tools", "torchsharp", "weaken_glibcxx.py"),
                Path.Combine(output, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"));
            if (!result.Patch.Succeeded)
            {
                return result;
            }
        }

        result.Run = DotNetCli.Run(consumer, ConsumerEnvironment, TorchSharpRunTimeout, "exec", Path.Combine(output, "TorchSharpConsumer.dll"));
        return result;
    }

    private static string Metadata(string key) =>
        typeof(PackageFixture).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

/// <summary>What <see cref="PackageFixture.TorchSharp"/> did; each step is null when an earlier one failed.</summary>
public sealed class TorchSharpConsumerResult(string packagePath, string consumerDirectory)
{
    public string PackagePath { get; } = packagePath;

    public string ConsumerDirectory { get; } = consumerDirectory;

    /// <summary><c>dotnet pack src/TorchSharp</c>; null when the OptGen pack failed.</summary>
    public CommandResult? Pack { get; set; }

    public CommandResult? Build { get; set; }

    /// <summary>weaken_glibcxx.py on the consumer output's libLibTorchSharp.so (Linux only, else null).</summary>
    public CommandResult? Patch { get; set; }

    public CommandResult? Run { get; set; }
}
