using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;
using Xunit;

using OptGen.Testing;

namespace OptGen.Generator.Tests;

/// <summary>
/// Emitter-only golden snapshots: each program here is written by hand as an <see cref="UpdateProgram"/> and a
/// <see cref="KernelModel"/> (with its comments, rule text, name and traffic spelled out), then printed by the CPU
/// emitter. Nothing of the front ends, the lowering or the IR post-pass runs, so a change to those never shows here
/// and a change to how code is printed shows here alone — an IR change and a printing change are separate diffs
/// (the catalog snapshots show both together).
/// </summary>
public sealed class EmitterSnapshotTests
{
    private static readonly TypeDeclarationInfo Type = new("Demo", "HandWritten", EquatableArray<string>.Empty, "Demo.HandWritten");

    /// <summary>SGD with PyTorch momentum, a host value with a symbol, a local, and a select on t.</summary>
    [Fact]
    public void MomentumProgram()
    {
        Expr one = Expr.Constant(1);
        Expr isFirst = Expr.Binary(ExprOp.Equal, Expr.Step(), one);
        var program = new UpdateProgram(
            Hyperparameters: Array(
                new HyperparameterDecl("LearningRate", "η", 0.01, Model.HyperparameterRange.NonNegative, false, "The learning rate η."),
                new HyperparameterDecl("Momentum", "μ", 0.9, Model.HyperparameterRange.UnitInterval, false, "The momentum μ."),
                new HyperparameterDecl("Nesterov", "nesterov", 0, Model.HyperparameterRange.Boolean, true, "Whether to look ahead.")),
            States: Array(new StateDecl("MomentumBuffer", "b", string.Empty, "The momentum buffer b.")),
            Host: Array(
                new HostStatement("GradientScale", Expr.RuntimeInput("GradientScale"), true, "gradientScale"),
                new HostStatement("Warmup", Expr.Binary(ExprOp.Min, one, Expr.Step() / Expr.Constant(100)), false, "min(1, t/100)") { Symbol = "wₜ" },
                new HostStatement("MomentumDecay", Expr.Select(isFirst, Expr.Constant(0), Expr.Hyperparameter("Momentum")), true, "(t = 1 ? 0 : μ)"),
                new HostStatement("StepSize", Expr.Hyperparameter("LearningRate") * Expr.Host("Warmup"), true, "η·wₜ")),
            Body: Array(
                new ElementStatement("g", Expr.Var("g") * Expr.Scalar("GradientScale"), false, "Unscale the gradient."),
                new ElementStatement("b", (Expr.Scalar("MomentumDecay") * Expr.Var("b")) + Expr.Var("g"), false, "Momentum: b ← MomentumDecay·b + g."),
                new ElementStatement("dir", Expr.Var("g") + (Expr.Scalar("MomentumDecay") * Expr.Var("b")), true, "Look-ahead: dir = g + MomentumDecay·b."),
                new ElementStatement("p", Expr.Var("p") - (Expr.Scalar("StepSize") * Expr.Var("dir")), false, "Step: p ← p − StepSize·dir.")),
            RuleMath: Array("wₜ = min(1, t/100)", "b ← (t = 1 ? 0 : μ)·b + g", "p ← p − η·wₜ·(g + μ·b)"));
        var kernel = new KernelModel(
            "UpdateKernel_handmade1",
            Array("b"),
            Array("GradientScale", "MomentumDecay", "StepSize"),
            program.Body,
            BytesRead: 12,
            BytesWritten: 8);
        Verify("Momentum", program, kernel);
    }

    /// <summary>A carried host state, a second state only written, a safe division and each element operation the CPU emitter prints.</summary>
    [Fact]
    public void OperationsProgram()
    {
        Expr one = Expr.Constant(1);
        Expr g = Expr.Var("g");
        var program = new UpdateProgram(
            Hyperparameters: Array(new HyperparameterDecl("Beta", "β", 0.99, Model.HyperparameterRange.UnitInterval, false, "The decay β.")),
            States: Array(
                new StateDecl("Average", "m", string.Empty, "The average m."),
                new StateDecl("LastStep", "u", string.Empty, "The last update u (written, never read).")),
            Host: Array(
                new HostStatement("GradientScale", Expr.RuntimeInput("GradientScale"), true, "gradientScale"),
                new HostStatement("Decay", Expr.Hyperparameter("Beta") * Expr.HostStateValue("Product"), true, "β·Πₜ"),
                new HostStatement("Weight", one - (Expr.Hyperparameter("Beta") * Expr.HostStateValue("Product")), true, "1 − β·Πₜ")),
            Body: Array(
                new ElementStatement("g", g * Expr.Scalar("GradientScale"), false, "Unscale the gradient."),
                new ElementStatement("m", (Expr.Scalar("Decay") * Expr.Var("m")) + (Expr.Scalar("Weight") * Expr.Unary(ExprOp.Abs, g)), false, "Average of |g|."),
                new ElementStatement("s", Expr.Binary(ExprOp.SafeDivide, g, Expr.Unary(ExprOp.Sqrt, Expr.Var("m"))), true, "Scaled: s = g/√m, 0/0 := 0."),
                new ElementStatement("c", Expr.Binary(ExprOp.Min, Expr.Binary(ExprOp.Max, Expr.Var("s"), -one), one), true, "Clip to [−1, 1]."),
                new ElementStatement("e", Expr.Unary(ExprOp.Exp, Expr.Unary(ExprOp.Log, Expr.Unary(ExprOp.Abs, Expr.Var("c")) + one)), true, "e = exp(log(|c| + 1))."),
                new ElementStatement("u", Expr.Select(Expr.Binary(ExprOp.NotEqual, Expr.Var("e"), Expr.Var("e") + Expr.Constant(0)), Expr.Constant(0), Expr.Unary(ExprOp.Sign, Expr.Var("c")) * Expr.Var("e")), false, "u = sign(c)·e, 0 for NaN."),
                new ElementStatement("p", Expr.Var("p") - Expr.Var("u"), false, "Step: p ← p − u.")),
            RuleMath: Array("Πₜ = Πₜ₋₁·β  (Π₀ = 1)", "m ← β·Πₜ·m + (1 − β·Πₜ)·|g|", "p ← p − sign(c)·exp(log(|c| + 1)),  c = clamp(g/√m, −1, 1)"))
        {
            HostStates = Array(new HostStateDecl("Product", "Π", 1, Expr.HostStateValue("Product") * Expr.Hyperparameter("Beta"), "The running product Πₜ of β.")),
        };
        var kernel = new KernelModel(
            "UpdateKernel_handmade2",
            Array("m", "u"),
            Array("GradientScale", "Decay", "Weight"),
            program.Body,
            BytesRead: 12,
            BytesWritten: 12);
        Verify("Operations", program, kernel);
    }

    private static void Verify(string name, UpdateProgram program, KernelModel kernel)
    {
        var model = new OptimizerModel(Type, "Hand-written " + name, program, kernel, "0123456789abcdef");
        string optimizer = CpuEmitter.EmitOptimizer(model);
        string kernelText = CpuEmitter.EmitKernel(kernel, new[] { "Demo.HandWritten" }, program.KernelScalars.Select(s => s.Comment).ToArray());

        // What the emitter prints from a well-formed model compiles, warnings as errors.
        CSharpCompilation compilation = GeneratorHarness.Compilation("namespace Demo;")
            .AddSyntaxTrees(CSharpSyntaxTree.ParseText(optimizer, GeneratorHarness.ParseOptions()), CSharpSyntaxTree.ParseText(kernelText, GeneratorHarness.ParseOptions()));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));

        Snapshot.VerifyAll(new[] { ($"Emitter.{name}.Optimizer", optimizer), ($"Emitter.{name}.Kernel", kernelText) });
    }

    private static EquatableArray<T> Array<T>(params T[] items)
        where T : System.IEquatable<T> => items.ToEquatableArray();
}
