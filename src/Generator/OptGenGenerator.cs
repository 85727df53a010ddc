using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// The OptGen pipeline: [Optimizer] classes → <see cref="Parser"/> (spec + diagnostics) →
    /// <see cref="Lowering"/> (update IR) → <see cref="CpuEmitter"/> (C#). Kernels are emitted once per distinct
    /// per-element program, so classes that declare the same rule share one kernel.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class OptGenGenerator : IIncrementalGenerator
    {
        /// <inheritdoc/>
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<ParseResult> parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    Parser.OptimizerAttribute,
                    static (node, _) => node is TypeDeclarationSyntax,
                    Parser.Parse)
                .WithTrackingName(TrackingNames.Parse);

            context.RegisterSourceOutput(
                parsed.SelectMany(static (result, _) => result.Diagnostics).WithTrackingName(TrackingNames.Diagnostics),
                static (output, diagnostic) => output.ReportDiagnostic(diagnostic.ToDiagnostic()));

            // Update-rule attributes on a type without [Optimizer] do nothing: say so (OPTG0019).
            foreach (string ruleAttribute in Parser.RuleAttributes)
            {
                IncrementalValuesProvider<Diagnostics.DiagnosticInfo> orphans = context.SyntaxProvider
                    .ForAttributeWithMetadataName(
                        Parser.Namespace + ruleAttribute,
                        static (node, _) => node is TypeDeclarationSyntax,
                        Parser.CheckRuleWithoutOptimizer)
                    .SelectMany(static (diagnostics, _) => diagnostics)
                    .WithTrackingName(TrackingNames.RuleWithoutOptimizer);
                context.RegisterSourceOutput(orphans, static (output, diagnostic) => output.ReportDiagnostic(diagnostic.ToDiagnostic()));
            }

            IncrementalValuesProvider<OptimizerModel> models = parsed
                .Where(static result => result.Spec is not null)
                .Select(static (result, _) => Lowering.Lower(result.Spec!))
                .WithTrackingName(TrackingNames.Lower);

            context.RegisterSourceOutput(
                models,
                static (output, model) => output.AddSource(CpuEmitter.OptimizerHintName(model), CpuEmitter.EmitOptimizer(model)));

            IncrementalValuesProvider<KernelUse> kernels = models
                .Select(static (model, _) => new KernelUse(model.Kernel, new[] { model.Type.FullName }.ToEquatableArray()))
                .Collect()
                .SelectMany(static (uses, _) => uses
                    .GroupBy(static use => use.Kernel)
                    .Select(static group => new KernelUse(group.Key, group.SelectMany(static u => u.Users).Distinct().OrderBy(static u => u, System.StringComparer.Ordinal).ToEquatableArray())))
                .WithTrackingName(TrackingNames.Kernels);

            context.RegisterSourceOutput(
                kernels,
                static (output, use) => output.AddSource(CpuEmitter.KernelHintName(use.Kernel), CpuEmitter.EmitKernel(use.Kernel, use.Users.ToArray())));
        }

        /// <summary>A kernel and the optimizers that run it.</summary>
        internal sealed record KernelUse(KernelModel Kernel, EquatableArray<string> Users);
    }

    /// <summary>Names of the tracked pipeline steps, for the incremental-caching tests.</summary>
    public static class TrackingNames
    {
        /// <summary>Attributes read into specs and diagnostics.</summary>
        public const string Parse = nameof(Parse);

        /// <summary>Diagnostics flattened for reporting.</summary>
        public const string Diagnostics = nameof(Diagnostics);

        /// <summary>Specs lowered to the update IR.</summary>
        public const string Lower = nameof(Lower);

        /// <summary>Distinct kernels and their users.</summary>
        public const string Kernels = nameof(Kernels);

        /// <summary>Warnings for update-rule attributes on a type without [Optimizer].</summary>
        public const string RuleWithoutOptimizer = nameof(RuleWithoutOptimizer);
    }
}
