using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Kernels are shared by structural equality of their models, never by their 32-bit hash names alone: two different
/// programs whose hashes collide get two kernels, and each optimizer runs its own math.
/// </summary>
public sealed class KernelIdentityTests
{
    // Two spellings found by a birthday search whose kernel hashes collide (UpdateKernel_67a9731e): the first
    // subtracts X·g, the second adds it.
    private const string Colliding = """
        using OptGen;
        namespace Demo;
        [Optimizer] [Hyperparameter("X", 0.1)] [Update("p=(((((p))))) -((X)* (g));")] public partial class Minus;
        [Optimizer] [Hyperparameter("X", 0.1)] [Update("p=((((p)))) +((X)) *(((((g)))))")] public partial class Plus;
        """;

    [Fact]
    public void CollidingHashesGetTwoKernelsAndEachOptimizerRunsItsOwnMath()
    {
        (GeneratorHarness.Run run, Compilation output) = GenerateAndCompile(Colliding);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);

        // The collision is real: both front-end names are the same hash, and the kernels are told apart by a suffix.
        string[] kernels = run.Files.Keys.Where(k => k.StartsWith("OptGen.Generated.UpdateKernel_", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        // If this fails because the names differ in their hash, the front end's hash input changed and these two
        // spellings no longer collide: find a new pair (a birthday search over spellings such as '((p)) - (X)*g'
        // finds one in about 100k tries) so the test keeps exercising a real collision.
        Assert.Equal(new[] { "OptGen.Generated.UpdateKernel_67a9731e.g.cs", "OptGen.Generated.UpdateKernel_67a9731e_2.g.cs" }, kernels);
        string minusKernel = KernelOf(run, "Demo.Minus.g.cs");
        string plusKernel = KernelOf(run, "Demo.Plus.g.cs");
        Assert.NotEqual(minusKernel, plusKernel);
        Assert.Contains("p=(((((p))))) -((X)* (g));", run.Files[$"OptGen.Generated.{minusKernel}.g.cs"], StringComparison.Ordinal);
        Assert.Contains("p=((((p)))) +((X)) *(((((g)))))", run.Files[$"OptGen.Generated.{plusKernel}.g.cs"], StringComparison.Ordinal);

        // And they run their own math: p = 1, g = 1, X = 0.1 → 0.9 and 1.1 (float64 reference: 1 ∓ 0.1).
        Assembly assembly = Load(output);
        Assert.Equal(1 - 0.1, StepOnce(assembly, "Demo.Minus"), 6);
        Assert.Equal(1 + 0.1, StepOnce(assembly, "Demo.Plus"), 6);
    }

    [Fact]
    public void ProgramsWithEqualInjectedHashesAndDifferentBodiesGetDifferentKernels()
    {
        OptimizerModel a = Model("A", "UpdateKernel_00000000", Expr.Var("p") - Expr.Var("g"));
        OptimizerModel b = Model("B", "UpdateKernel_00000000", Expr.Var("p") + Expr.Var("g"));
        OptimizerModel c = Model("C", "UpdateKernel_00000000", Expr.Var("p") - Expr.Var("g")); // the same program as A

        // Every kernel hashes to the same name, in any declaration order.
        foreach (OptimizerModel[] order in new[] { new[] { a, b, c }, new[] { c, b, a }, new[] { b, a, c } })
        {
            OutputPlan plan = OutputNames.Plan(order, static _ => "UpdateKernel_ffffffff");
            Assert.Equal(2, plan.Kernels.Count);
            string nameOfA = plan.Optimizers.Single(m => m.Type.Name == "A").Kernel.Name;
            string nameOfB = plan.Optimizers.Single(m => m.Type.Name == "B").Kernel.Name;
            string nameOfC = plan.Optimizers.Single(m => m.Type.Name == "C").Kernel.Name;
            Assert.NotEqual(nameOfA, nameOfB);
            Assert.Equal(nameOfA, nameOfC);
            Assert.Equal(new[] { "UpdateKernel_ffffffff", "UpdateKernel_ffffffff_2" }, plan.Kernels.Select(k => k.Kernel.Name).ToArray());

            // Each kernel holds its own body, and the shared one lists both its users.
            Assert.Equal(ExprOp.Subtract, plan.Kernels.Single(k => k.Kernel.Name == nameOfA).Kernel.Body[0].Value.Op);
            Assert.Equal(ExprOp.Add, plan.Kernels.Single(k => k.Kernel.Name == nameOfB).Kernel.Body[0].Value.Op);
            Assert.Equal(new[] { "Demo.A", "Demo.C" }, plan.Kernels.Single(k => k.Kernel.Name == nameOfA).Users.ToArray());

            // The names do not depend on the order of the declarations.
            Assert.Equal(nameOfA, OutputNames.Plan(new[] { a, b, c }, static _ => "UpdateKernel_ffffffff").Optimizers.Single(m => m.Type.Name == "A").Kernel.Name);
        }
    }

    [Fact]
    public void WithoutACollisionTheHashNameIsKept()
    {
        OptimizerModel a = Model("A", "UpdateKernel_0000000a", Expr.Var("p") - Expr.Var("g"));
        OptimizerModel b = Model("B", "UpdateKernel_0000000b", Expr.Var("p") + Expr.Var("g"));
        OutputPlan plan = OutputNames.Plan(new[] { a, b });
        Assert.Equal(new[] { "UpdateKernel_0000000a", "UpdateKernel_0000000b" }, plan.Kernels.Select(k => k.Kernel.Name).ToArray());
        Assert.Equal(new[] { "Demo.A", "Demo.B" }, plan.Optimizers.Select(m => m.Type.HintName).ToArray());
    }

    private static OptimizerModel Model(string name, string kernelName, Expr update)
    {
        var body = new[] { new ElementStatement("p", update, false, string.Empty) }.ToEquatableArray();
        var program = new UpdateProgram(
            EquatableArray<HyperparameterDecl>.Empty,
            EquatableArray<StateDecl>.Empty,
            EquatableArray<HostStatement>.Empty,
            body,
            EquatableArray<string>.Empty);
        var kernel = new KernelModel(kernelName, EquatableArray<string>.Empty, EquatableArray<string>.Empty, body, 8, 4);
        var type = new TypeDeclarationInfo("Demo", name, EquatableArray<string>.Empty, "Demo." + name);
        return new OptimizerModel(type, name, program, kernel, "0");
    }

    /// <summary>The kernel type an optimizer's generated file runs.</summary>
    private static string KernelOf(GeneratorHarness.Run run, string optimizerFile)
    {
        string text = run.Files[optimizerFile];
        int at = text.IndexOf("global::OptGen.Generated.UpdateKernel_", StringComparison.Ordinal);
        Assert.True(at >= 0, optimizerFile + " names no kernel");
        int start = at + "global::OptGen.Generated.".Length;
        int end = start;
        while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] == '_'))
        {
            end++;
        }

        return text.Substring(start, end - start);
    }

    internal static (GeneratorHarness.Run Run, Compilation Output) GenerateAndCompile(string source)
    {
        var compilation = GeneratorHarness.Compilation(source);
        GeneratorDriver driver = GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        GeneratorDriverRunResult result = driver.GetRunResult();
        var run = new GeneratorHarness.Run(
            result.Results.SelectMany(r => r.GeneratedSources).ToDictionary(s => s.HintName, s => s.SourceText.ToString()),
            diagnostics.AddRange(result.Diagnostics),
            output.GetDiagnostics(),
            result.Results.Select(r => r.Exception).Where(e => e is not null).ToList()!);
        return (run, output);
    }

    internal static Assembly Load(Compilation output)
    {
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        image.Position = 0;
        return new AssemblyLoadContext("KernelIdentity", isCollectible: true).LoadFromStream(image);
    }

    private static double StepOnce(Assembly assembly, string typeName)
    {
        var optimizer = (OptGen.Optimizer)Activator.CreateInstance(assembly.GetType(typeName, throwOnError: true)!, 1)!;
        float[] p = { 1f };
        optimizer.Step(p, new[] { 1f });
        return p[0];
    }
}
