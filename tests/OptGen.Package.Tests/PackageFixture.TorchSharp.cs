using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security;
using System.Text;

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

        result.Pack = PackIntoFeed(Path.Combine("src", "TorchSharp", "OptGen.TorchSharp.csproj"), "nuspec-torchsharp");
        if (!result.Pack.Succeeded || !File.Exists(packagePath))
        {
            return result;
        }

        string consumer = result.ConsumerDirectory;
        CopyDirectory(Path.Combine(AppContext.BaseDirectory, "TorchSharpConsumer"), consumer);
        result.Snippets = WriteAdoptionSnippets(consumer);
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

    /// <summary>The pages whose TorchSharp adoption snippets the consumer compiles and runs.</summary>
    public static readonly string[] AdoptionPages = ["README.md", "docs/torchsharp.md", "src/TorchSharp/README.md"];

    /// <summary>
    /// The adoption snippets (the <c>```csharp fragment</c> blocks of <see cref="AdoptionPages"/> that use
    /// <c>OptGen.TorchSharp</c>), each as a file of the consumer: its <c>using</c> lines at the top, its statements as
    /// the body of a method that is given a TorchSharp module as <c>model</c> and returns the snippet's
    /// <c>optimizer</c>, with <c>#line</c> directives so that an error names the page's line. The consumer creates an
    /// optimizer with each and steps it. Returns where each snippet is (page:line).
    /// </summary>
    private string[] WriteAdoptionSnippets(string consumer)
    {
        CodeBlock[] blocks = AdoptionPages
            .SelectMany(page => MarkdownCodeBlocks.Read(RepositoryRoot, page))
            .Where(b => b.Info == DocsCompileTests.Fragment && b.Text.Contains("using OptGen.TorchSharp;", StringComparison.Ordinal))
            .ToArray();
        var entries = new List<string>();
        for (int k = 0; k < blocks.Length; k++)
        {
            CodeBlock block = blocks[k];
            string[] lines = block.Text.Split('\n');
            int firstStatement = Array.FindIndex(lines, l => l.Length > 0 && !l.StartsWith("using ", StringComparison.Ordinal));
            var file = new StringBuilder();
            file.AppendLine(CultureInfo.InvariantCulture, $"// {block.Page}:{block.FirstLine}, written by PackageFixture.WriteAdoptionSnippets.");
            foreach (string line in lines[..firstStatement])
            {
                file.AppendLine(line);
            }

            file.AppendLine("internal static partial class AdoptionSnippets");
            file.AppendLine("{");
            file.AppendLine(CultureInfo.InvariantCulture, $"    private static global::TorchSharp.torch.optim.Optimizer Snippet{k}(global::TorchSharp.torch.nn.Module model)");
            file.AppendLine("    {");
            file.AppendLine(CultureInfo.InvariantCulture, $"#line {block.FirstLine + firstStatement} \"{block.Page}\"");
            foreach (string line in lines[firstStatement..])
            {
                file.AppendLine(line);
            }

            file.AppendLine("#line default");
            file.AppendLine("        return optimizer;");
            file.AppendLine("    }");
            file.AppendLine("}");
            File.WriteAllText(Path.Combine(consumer, $"AdoptionSnippet{k}.g.cs"), file.ToString());
            entries.Add($"(\"{block.Page}:{block.FirstLine}\", Snippet{k})");
        }

        File.WriteAllText(
            Path.Combine(consumer, "AdoptionSnippets.g.cs"),
            $$"""
            // The adoption snippets of the docs (PackageFixture.WriteAdoptionSnippets).
            internal static partial class AdoptionSnippets
            {
                public static readonly (string Where, Func<global::TorchSharp.torch.nn.Module, global::TorchSharp.torch.optim.Optimizer> Create)[] All = [{{string.Join(", ", entries)}}];
            }
            """);
        return blocks.Select(b => $"{b.Page}:{b.FirstLine}").ToArray();
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

    /// <summary>Where the adoption snippets the consumer compiled came from (page:line).</summary>
    public IReadOnlyList<string> Snippets { get; set; } = [];
}
