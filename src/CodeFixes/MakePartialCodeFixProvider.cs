using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OptGen.CodeFixes
{
    /// <summary>
    /// Fixes OPTG0001 (the optimizer class is not partial) and OPTG0005 (a type that contains it is not partial)
    /// by adding the <c>partial</c> modifier to the type the diagnostic points at, just before its keyword.
    /// </summary>
    [ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MakePartialCodeFixProvider))]
    [Shared]
    public sealed class MakePartialCodeFixProvider : CodeFixProvider
    {
        /// <summary>The ID of "optimizer class must be partial".</summary>
        public const string NotPartial = "OPTG0001";

        /// <summary>The ID of "containing type must be partial".</summary>
        public const string ContainingTypeNotPartial = "OPTG0005";

        /// <inheritdoc/>
        public override ImmutableArray<string> FixableDiagnosticIds => ImmutableArray.Create(NotPartial, ContainingTypeNotPartial);

        /// <inheritdoc/>
        public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

        /// <inheritdoc/>
        public override async Task RegisterCodeFixesAsync(CodeFixContext context)
        {
            SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
            if (root is null)
            {
                return;
            }

            foreach (Diagnostic diagnostic in context.Diagnostics)
            {
                // The diagnostic sits on the type's identifier.
                SyntaxToken identifier = root.FindToken(diagnostic.Location.SourceSpan.Start);
                if (identifier.Parent is not TypeDeclarationSyntax declaration
                    || declaration.Identifier != identifier
                    || declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    continue;
                }

                string title = $"Make '{identifier.ValueText}' partial";
                context.RegisterCodeFix(
                    CodeAction.Create(title, token => MakePartialAsync(context.Document, root, declaration, token), equivalenceKey: "OptGen.MakePartial"),
                    diagnostic);
            }
        }

        private static Task<Document> MakePartialAsync(Document document, SyntaxNode root, TypeDeclarationSyntax declaration, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            TypeDeclarationSyntax fixedDeclaration = AddPartial(declaration);
            return Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(declaration, fixedDeclaration)));
        }

        /// <summary>
        /// Adds <c>partial</c> as the last modifier (C# requires it immediately before <c>class</c>), keeping the
        /// declaration's trivia: with no modifiers, the keyword's leading trivia moves to <c>partial</c>.
        /// </summary>
        internal static TypeDeclarationSyntax AddPartial(TypeDeclarationSyntax declaration)
        {
            SyntaxToken keyword = declaration.Keyword;
            if (declaration.Modifiers.Count == 0)
            {
                SyntaxToken partial = SyntaxFactory.Token(keyword.LeadingTrivia, SyntaxKind.PartialKeyword, SyntaxFactory.TriviaList(SyntaxFactory.Space));
                return declaration
                    .WithKeyword(keyword.WithLeadingTrivia())
                    .WithModifiers(SyntaxFactory.TokenList(partial));
            }

            return declaration.WithModifiers(declaration.Modifiers.Add(
                SyntaxFactory.Token(SyntaxFactory.TriviaList(), SyntaxKind.PartialKeyword, SyntaxFactory.TriviaList(SyntaxFactory.Space))));
        }
    }
}
